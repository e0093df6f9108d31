"""Seed workflow 1: an idempotent workflow with concurrency control (DynamoDB semaphore)."""
