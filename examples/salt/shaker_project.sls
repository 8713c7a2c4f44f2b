# /srv/salt/states/shaker_project.sls: the project's formula dependencies,
# declared in the master's highstate. `state.apply shaker_project test=True`
# shows the plan; without test=True it publishes /srv/salt/project/vendor/_root.
project_formulas:
  shaker.pinned:
    - name: /srv/salt/project
    - dependencies:
      - my_org/nginx-formula>=v2.0.0
      - my_org/users-formula
    - remote_check: False
    - update: False
