"""`svp cloud`: set up and operate the Google Cloud deployment after `terraform apply`.

setup (secrets, each checked against its service, written through Secret Manager's API),
webhook-token, poll / pause / resume (Cloud Scheduler), status, logs (Cloud Logging).
Where everything is comes from `terraform output -json svp_cloud` or flags (target.py);
each Google API client can be sent to a test endpoint (clients.py).
"""
