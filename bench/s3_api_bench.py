"""S3 API benchmark: throughput of large bodies and small objects through boto3, and the
server's memory while a large object goes through it.

Starts Stepwell (SQLite in a temporary folder) in this process, then through boto3:

* PUT and GET of one large object (``--mib``, streamed from and to a file), MiB/s;
* PutObject, GetObject and HeadObject of small objects (1 KiB), requests per second;
* the growth of this process's peak RSS during the large transfer, which stays about
  the same whatever the object's size, because bodies are streamed in 1 MiB chunks.

    .venv/bin/python bench/s3_api_bench.py [--mib 256] [--small 300]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from stepwell.service.settings import Settings
from stepwell.testing import local_stepwell


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--small", type=int, default=300)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(db=str(Path(folder) / "stepwell.db"), workers=0)
        with local_stepwell(settings) as sw:
            s3 = boto3.client(
                "s3",
                endpoint_url=sw.url,
                region_name="us-east-1",
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
                config=Config(retries={"max_attempts": 1}),
            )
            s3.create_bucket(Bucket="bench")
            source = Path(folder) / "large.bin"
            with source.open("wb") as out:
                for _ in range(arguments.mib):
                    out.write(os.urandom(1024 * 1024))
            single = TransferConfig(multipart_threshold=8 * 1024**3)  # one streamed PUT
            before = peak_rss_mib()
            started = time.perf_counter()
            s3.upload_file(str(source), "bench", "large", Config=single)
            put_seconds = time.perf_counter() - started
            started = time.perf_counter()
            s3.download_file("bench", "large", str(Path(folder) / "back.bin"), Config=single)
            get_seconds = time.perf_counter() - started
            growth = peak_rss_mib() - before
            print(f"PUT {arguments.mib} MiB: {arguments.mib / put_seconds:.0f} MiB/s")
            print(f"GET {arguments.mib} MiB: {arguments.mib / get_seconds:.0f} MiB/s")
            print(f"peak RSS growth during both: {growth:.0f} MiB")
            body = os.urandom(1024)
            for name, call in (
                ("PutObject", lambda i: s3.put_object(Bucket="bench", Key=f"s/{i}", Body=body)),
                ("GetObject", lambda i: s3.get_object(Bucket="bench", Key=f"s/{i}")["Body"].read()),
                ("HeadObject", lambda i: s3.head_object(Bucket="bench", Key=f"s/{i}")),
            ):
                started = time.perf_counter()
                for index in range(arguments.small):
                    call(index)
                rate = arguments.small / (time.perf_counter() - started)
                print(f"{name} 1 KiB: {rate:.0f} requests/s")


if __name__ == "__main__":
    main()
