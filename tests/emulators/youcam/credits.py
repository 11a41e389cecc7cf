"""The account's credits: buckets with expiries, spent nearest-expiry first, and a history.

A task is charged when it succeeds (never when it fails or is dropped). Video is priced per two
seconds of output and text-to-image per picture, as the vendor's price list says.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from tests.emulators.youcam.store import Task

DAY_MS = 86400_000


@dataclass
class Credit:
    id: int
    type: str
    amount: int
    expiry_ms: int


class CreditLedger:
    """Two buckets (a subscription that expires first and is spent first, then pay-as-you-go)
    and the history of what came in and what each task took."""

    def __init__(self, total: int, lock: threading.RLock) -> None:
        self.lock = lock
        now_ms = int(time.time() * 1000)
        sub = total // 4
        self.buckets = [
            Credit(101, "SubsToken", sub, now_ms + 20 * DAY_MS),
            Credit(102, "PaygToken", total - sub, now_ms + 365 * DAY_MS),
        ]
        self.history: list[dict[str, Any]] = [
            {"id": 1, "timestamp": now_ms - 3 * DAY_MS, "action": "subscription_credits",
             "target_id": "order-1", "info": {"credits": [{"id": 101, "amount": sub}]}},
            {"id": 2, "timestamp": now_ms - 2 * DAY_MS, "action": "permanent_credits",
             "target_id": "order-2", "info": {"credits": [{"id": 102, "amount": total - sub}]}},
        ]  # fmt: skip

    @property
    def balance(self) -> int:
        with self.lock:
            return sum(c.amount for c in self.buckets)

    def set(self, amount: int) -> None:
        """Leave ``amount`` credits, all pay-as-you-go."""
        with self.lock:
            self.buckets[0].amount = 0
            self.buckets[1].amount = amount

    def listing(self) -> list[dict[str, Any]]:
        """The buckets as the balance call lists them."""
        with self.lock:
            return [
                {"id": c.id, "type": c.type, "amount": c.amount, "expiry": c.expiry_ms}
                for c in self.buckets
            ]

    def newest_first(self) -> list[dict[str, Any]]:
        with self.lock:
            return sorted(self.history, key=lambda h: -h["id"])

    @staticmethod
    def cost(task: Task) -> int:
        """What a finished task costs."""
        cost = task.feature.cost
        if task.feature.name == "video_sr":
            cost = max(1, (int(task.params.get("dst_duration", 2)) + 1) // 2)
        if task.feature.name == "text_to_image":
            cost *= int(task.params.get("batch_size", 1) or 1)
        return cost

    def charge(self, task: Task) -> None:
        """Take ``task``'s cost (as much as is left), nearest expiry first, and record it."""
        cost = self.cost(task)
        left = cost
        used = []
        with self.lock:
            for c in sorted(self.buckets, key=lambda c: c.expiry_ms):
                take = min(c.amount, left)
                if take:
                    c.amount -= take
                    left -= take
                    used.append({"id": c.id, "amount": -take})
            task.charged = cost - left
            self.history.append(
                {
                    "id": len(self.history) + 1,
                    "timestamp": int(time.time() * 1000),
                    "action": f"api_{task.feature.name}",
                    "target_id": task.task_id,
                    "info": {"credits": used},
                }
            )
