shaker_example_firewall:
  test.succeed_without_changes:
    - name: firewall
