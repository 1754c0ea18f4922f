"""REST inbound adapters (Starlette on uvicorn): the same handlers as the gRPC servicers, another protocol."""
