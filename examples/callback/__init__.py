"""Seed workflow 4, callbacks: sqs:sendMessage.waitForTaskToken, a consumer, a timeout."""
