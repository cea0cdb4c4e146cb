"""Prometheus metrics for the bot, in a registry of their own."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "facefind_updates_total", "Telegram updates received", registry=self.registry
        )
        self.lookups = Counter(
            "facefind_lookups_total", "Lookups by outcome", ["status"], registry=self.registry
        )
        self.lookup_seconds = Histogram(
            "facefind_lookup_seconds",
            "Time from receiving a photo to the last reply",
            buckets=(0.25, 0.5, 1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.errors = Counter(
            "facefind_errors_total", "Errors reaching the error handler", registry=self.registry
        )
        self.refused = Counter(
            "facefind_refused_total",
            "Updates refused: not approved, not admin, rate limited",
            ["reason"],
            registry=self.registry,
        )
        self.undelivered = Counter(
            "facefind_replies_undelivered_total",
            "Lookup replies given up after the last delivery attempt",
            registry=self.registry,
        )
        self.held = Counter(
            "facefind_updates_held_total",
            "Updates kept for later because the database could not be reached",
            registry=self.registry,
        )
        self.enrollments = Counter(
            "facefind_enrollments_total", "Faces enrolled through the bot", registry=self.registry
        )
        self.queue = Gauge(
            "facefind_inference_queue",
            "Photos waiting for an inference slot",
            registry=self.registry,
        )
        self.running = Gauge(
            "facefind_inference_running", "Photos being analysed now", registry=self.registry
        )

    def watch_queue(self, queued: Callable[[], int], running: Callable[[], int]) -> None:
        self.queue.set_function(lambda: float(queued()))
        self.running.set_function(lambda: float(running()))

    def render(self) -> bytes:
        return generate_latest(self.registry)
