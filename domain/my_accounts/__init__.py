"""The my accounts context (내 계좌): a read model of each customer's accounts and balances, fed only by
events (customer, member and account), answering while the account service is down."""
