"""The member context (뱅킹회원), the core domain: banking ids, passwords, lockout, login and sessions."""
