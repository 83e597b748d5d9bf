# The Autopilot worker and webhook receiver, one image (README, "Deploying Autopilot").
#   docker build -t autopilot .
#   docker run ... autopilot                                         # a worker (the default)
#   docker run ... autopilot webhook --host 0.0.0.0 --port 8600      # the webhook receiver
# The install steps are the README's; tests/deploy/test_compose.py keeps them the same.
FROM python:3.11-slim

# git: checkouts and pushes; bubblewrap: the sandbox for repository code (README, sandbox).
RUN apt-get update && apt-get install -y --no-install-recommends git bubblewrap && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/autopilot-src
COPY . .
RUN pip install --no-cache-dir .

RUN useradd --create-home autopilot
USER autopilot
WORKDIR /home/autopilot
# SIGTERM stops taking work and lets running activities finish (temporal.graceful_shutdown_seconds):
# give the container at least that long to stop (docker stop -t, stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["autopilot"]
CMD ["worker", "--health-port", "8080"]
