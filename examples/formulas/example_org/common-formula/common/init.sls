shaker_example_common:
  test.succeed_without_changes:
    - name: common
