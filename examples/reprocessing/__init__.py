"""Seed workflow 2: reprocess failed communications on a schedule, in batches of 20."""
