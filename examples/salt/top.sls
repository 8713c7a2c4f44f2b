# /srv/salt/states/top.sls: the master's own minion keeps the formula root in
# sync with the declaration in shaker_project.sls.
base:
  '{{ grains.id }}':
    - shaker_project
