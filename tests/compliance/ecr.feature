Feature: ECR repositories scan images

  Scenario: Every ECR repository scans on push
    Given I have aws_ecr_repository defined
    Then it must contain image_scanning_configuration
    Then it must contain scan_on_push
    And its value must be true
