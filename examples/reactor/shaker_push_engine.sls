#!py
# Reactor for pushes through the webhook engine: salt/engines/hook/shaker/push.
# The engine answers 200 to everyone; shaker.webhook checks the signature over
# the exact raw bytes, so the event data is passed on unchanged.


def run():
    return {"shaker_webhook": {"runner.shaker.webhook": [{"args": [{"hook": data}]}]}}
