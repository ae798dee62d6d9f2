@fault:app_upgrade
Feature: The app is upgraded from the version with the old store format
  The new version migrates the old store: no stored payment is lost and none
  is charged twice (incident android-731).

  Scenario: Stored payments survive an upgrade and are forwarded
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And these customers pay:
      | name  | amount   |
      | gum   | 1.00 USD |
      | mints | 1.50 USD |
    And the app on the POS is upgraded from the version with the old store format
    And the internet comes back
    Then "gum" is forwarded within 5 minutes
    And "mints" is forwarded within 5 minutes
    And the backend holds 1 charge for "gum"

  Scenario: A smart reader's stored payments survive an upgrade
    Given a rig with a BBPOS WisePOS E
    When the internet goes down
    And the customer pays 1.00 USD as "gum"
    And the app on the reader is upgraded from the version with the old store format
    And the internet comes back
    Then "gum" is forwarded within 5 minutes
    And the backend holds 1 charge for "gum"
