include:
  - users
  - firewall

shaker_example_nginx:
  test.succeed_without_changes:
    - name: nginx
