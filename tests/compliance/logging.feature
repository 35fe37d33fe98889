Feature: CloudWatch log groups do not keep logs forever

  Scenario: Every log group has a retention
    Given I have aws_cloudwatch_log_group defined
    Then it must contain retention_in_days
    And its value must be greater than 0
