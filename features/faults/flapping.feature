@fault:link_flapping
Feature: A flapping internet connection
  The internet goes down and up every few seconds. Payments still end with one
  outcome each, and stored payments are charged exactly once.

  Scenario: Payments stored with FORCE_OFFLINE forward through a flapping link
    Given a rig with a Stripe Reader M2
    And the app collects with FORCE_OFFLINE
    When the internet starts flapping
    And these customers pay:
      | name  | amount   |
      | one   | 4.00 USD |
      | two   | 4.10 USD |
      | three | 4.20 USD |
    And 5 minutes pass
    And the internet stops flapping
    Then "one" is forwarded within 5 minutes
    And "two" is forwarded within 5 minutes
    And "three" is forwarded within 5 minutes
    And the backend holds 1 charge for "two"

  Scenario: Payments taken on a flapping link are charged once each on a smart reader
    Given a rig with a BBPOS WisePOS E
    When the internet starts flapping
    And these customers pay:
      | name  | amount   |
      | one   | 4.00 USD |
      | two   | 4.10 USD |
      | three | 4.20 USD |
    And 5 minutes pass
    And the internet stops flapping
    And 5 minutes pass
    Then the backend holds 1 charge for "one"
    And the backend holds 1 charge for "two"
    And the backend holds 1 charge for "three"
    And the reader reports 0 stored payments
