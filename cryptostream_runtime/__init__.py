"""What the Lambdas share beyond the contract: one retry policy, one boto3 client factory, one reader
of cancelled DynamoDB transactions, and one way to flush metrics.

Shipped in the Lambdas' layer next to ``cryptostream_model``. It imports only the standard library at
import time (boto3, botocore and Powertools are imported where they are first needed), so it adds
nothing to a cold start, and nothing of the local stack, the CLI, the tools or the CDK app.
"""
