"""Background jobs: work that runs off the request, polled by its caller."""
