"""A Distributed Map against an in-process Stepwell server.

    python -m examples.distributed_map.run        (or: make example-distributed-map)

A CSV of 1,000 customer records is put in the embedded S3 bucket; the state machine
reads it (ItemReader), hands the rows to child executions 50 at a time (ItemBatcher),
each calls a Python function as its Lambda, and the results are written back to the
bucket (ResultWriter: ``manifest.json`` and ``SUCCEEDED_0.json``). The Map Run is then
examined as on AWS: ListMapRuns, DescribeMapRun, ListExecutions(mapRunArn).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

from examples.distributed_map.functions import score_customers
from examples.local_stepwell import local_stepwell

HERE = Path(__file__).parent
BUCKET = "customer-data"
RECORDS = 1_000


def customers_csv(count: int = RECORDS) -> str:
    rng = random.Random(7)
    rows = ["id,name,orders,years"]
    rows += [f"c-{n:04},Customer {n},{rng.randrange(20)},{rng.randrange(10)}" for n in range(count)]
    return "\n".join(rows) + "\n"


def main() -> None:
    start = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
    with local_stepwell({"score-customers": score_customers}, start=start) as local:
        s3 = local.services.s3
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="customers.csv", Body=customers_csv())
        machine = local.create_state_machine("ScoreCustomers", HERE / "distributed_map.asl.json")
        given = {"bucket": BUCKET, "key": "customers.csv", "threshold": 150}
        execution = local.start_execution(machine, given)
        described = local.run_until_done(execution)
        print(f"execution {described['status']}")
        output = json.loads(described["output"])
        [run] = local.sfn.list_map_runs(executionArn=execution)["mapRuns"]
        counts = local.sfn.describe_map_run(mapRunArn=run["mapRunArn"])
        items, children = counts["itemCounts"], counts["executionCounts"]
        print(f"map run {run['mapRunArn']}")
        print(
            f"  {items['succeeded']}/{items['total']} records in "
            f"{children['succeeded']}/{children['total']} child executions"
        )
        listed = local.sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]
        print(f"  ListExecutions(mapRunArn) lists {len(listed)} children")
        manifest_key = output["ResultWriterDetails"]["Key"]
        manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read())
        [written] = manifest["ResultFiles"]["SUCCEEDED"]
        results = json.loads(s3.get_object(Bucket=BUCKET, Key=written["Key"])["Body"].read())
        vip = sum(json.loads(r["Output"])["vip"] for r in results)
        print(f"results in s3://{BUCKET}/{manifest_key} → {written['Key']}: {vip} VIP customers")


if __name__ == "__main__":
    main()
