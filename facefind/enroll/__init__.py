"""Enrollment: one photo, a folder of people (bulk loading), export and import between
deployments, re-embedding."""
