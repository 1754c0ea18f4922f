"""Redis (redis-py, asyncio) persistence: the my_accounts view as an alternative to its SQL store."""
