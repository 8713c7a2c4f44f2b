#!py
# Reactor for pushes through salt-api (rest_cherrypy /hook/shaker/push):
# salt/netapi/hook/shaker/push. The event's raw_body is the exact text the
# git host signed; shaker.webhook checks it, so the data is passed on unchanged.


def run():
    return {"shaker_webhook": {"runner.shaker.webhook": [{"args": [{"hook": data}]}]}}
