Feature: AWS receives clawform's ownership tags on every taggable resource
  tags_all, as the Terraform AWS provider names it, holds what AWS receives: the resource's own
  tags and clawform:stack / clawform:address, which adoption after a crash relies on.

  Scenario: Taggable resources carry the ownership tags
    Given I have resource that supports tags defined
    Then it must contain tags_all
    Then it must contain clawform:stack
