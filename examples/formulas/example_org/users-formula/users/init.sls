{% from "common/map.jinja" import common with context %}
shaker_example_users:
  test.succeed_without_changes:
    - name: "users for {{ common.site }}"
