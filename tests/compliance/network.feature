Feature: Network exposure stays at the load balancer

  Scenario: No security group opens SSH to the world
    Given I have AWS Security Group defined
    When it contains ingress
    Then it must not have tcp protocol and port 22 for 0.0.0.0/0

  Scenario: No security group opens RDP to the world
    Given I have AWS Security Group defined
    When it contains ingress
    Then it must not have tcp protocol and port 3389 for 0.0.0.0/0

  Scenario: Load balancers drop invalid header fields
    Given I have aws_lb defined
    Then it must contain drop_invalid_header_fields
    And its value must be true

  Scenario: Listeners speak HTTP or HTTPS
    Given I have aws_lb_listener defined
    Then it must contain protocol
    And its value must match the "^HTTPS?$" regex
