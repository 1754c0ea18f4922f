"""The account context (계좌, the product team's): accounts, their products and balances (잔액)."""
