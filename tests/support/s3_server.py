"""A real S3-compatible server on 127.0.0.1 for odis's tests (moto).

Starts moto's server on a free port, creates an IAM user with full access and
a bucket, then switches request authentication on, so that wrong credentials
are refused as by real S3. Prints one JSON line
{"endpoint", "access_key_id", "secret_access_key", "region", "bucket"} and
serves until its standard input closes (the test process ended).
"""

import json
import sys

import boto3
import requests
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
BUCKET = "odis-test"


def main() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"

    bootstrap = dict(
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )
    iam = boto3.client("iam", **bootstrap)
    iam.create_user(UserName="odis")
    iam.put_user_policy(
        UserName="odis",
        PolicyName="all",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="odis")["AccessKey"]
    boto3.client("s3", **bootstrap).create_bucket(Bucket=BUCKET)

    # From here on every request must be signed with the user's key.
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()

    print(
        json.dumps(
            {
                "endpoint": endpoint,
                "access_key_id": key["AccessKeyId"],
                "secret_access_key": key["SecretAccessKey"],
                "region": REGION,
                "bucket": BUCKET,
            }
        ),
        flush=True,
    )
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
