"""What a running process needs: settings, which database as which role, the inference pool,
logging with redaction, the allocator, the task queue, process identity, the embedded server's
supervision."""
