"""StreamingWeights' test doubles and reference oracles, run by the Swift tests and the benchmarks.

Each module is a program: `python -m streaming_weights_testing.NAME --help`. scripts/bootstrap
installs this package into .venv (`pip install -e Tests/Support`), so the project's Python imports
it from this checkout.

Test doubles (local servers that stand in for real ones; service.py holds what they share):
  s3_servers       moto (signatures enforced) or SeaweedFS, with the tests' buckets and keys
  nginx            Debian's nginx from a config in deploy/nginx/: a static server or a WebSocket balancer
  cluster          S3, N weight servers and nginx in front of them
  fault_proxy      an HTTP/1.1 reverse proxy that injects S3 faults
  tcp_fault_proxy  a TCP proxy that delays, throttles, cuts, flips bits or goes silent
  metadata_server  the EC2 instance metadata and ECS container credential services
  hub_mirror       the Hugging Face Hub's HTTP layout served from a folder
  legacy_client    a client written like the Python tool's `GET layer 0` client
  make_legacy_chunks  a chunk directory written as the Python tool's chunker wrote it

Reference oracles (what the Swift code must agree with):
  sigv4_reference    botocore's AWS Signature Version 4 signatures
  check_chunks       a chunk directory checked against its source with safetensors and PyTorch
  check_safetensors  a .safetensors file read back by Python's safetensors
"""
