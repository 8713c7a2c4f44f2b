#!py
# Reactor for shaker/install/complete: when a publish changed _modules/,
# _states/ or another _* directory, sync the minions' extension modules.


def run():
    if not data.get("module_dirs_changed"):
        return {}
    return {"shaker_sync_minions": {"local.saltutil.sync_all": [{"tgt": "*"}]}}
