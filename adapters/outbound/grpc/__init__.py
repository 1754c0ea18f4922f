"""gRPC outbound adapters: clients of other services, each with a deadline and a circuit breaker."""
