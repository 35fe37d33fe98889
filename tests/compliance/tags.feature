Feature: Every taggable resource carries the project tags
  The stack-wide tags (Project, ManagedBy) reach every resource that has tags.

  Scenario: Taggable resources have tags
    Given I have resource that supports tags defined
    Then it must contain tags
    And its value must not be null

  Scenario: Taggable resources are tagged ManagedBy=clawform
    Given I have resource that supports tags defined
    Then it must contain tags
    Then it must contain ManagedBy
    And its value must be clawform

  Scenario: Taggable resources name their project
    Given I have resource that supports tags defined
    Then it must contain tags
    Then it must contain Project
    And its value must match the "^[a-z0-9-]+$" regex
