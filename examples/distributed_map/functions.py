"""The Lambda function each child execution calls: score a batch of customer rows."""

from __future__ import annotations

from typing import Any


def score_customers(event: dict[str, Any]) -> dict[str, Any]:
    """``{"BatchInput": {"threshold": n}, "Items": [csv rows]}`` → the batch's scores."""
    threshold = event["BatchInput"]["threshold"]
    scored = []
    for row in event["Items"]:
        score = int(row["orders"]) * 10 + int(row["years"]) * 5
        scored.append({"id": row["id"], "score": score, "vip": score >= threshold})
    return {"count": len(scored), "vip": sum(s["vip"] for s in scored), "scores": scored}
