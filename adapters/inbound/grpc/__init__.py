"""gRPC inbound adapters: servicers that translate requests into calls of a context's application, and the
server plumbing they share."""
