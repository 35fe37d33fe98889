Feature: Every taggable resource carries clawform's ownership tags
  The plan's after.tags carry Project, ManagedBy and Name (no clawform:stack key today).

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
