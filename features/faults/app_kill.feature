@fault:app_kill
Feature: The POS app is killed and started again
  The SDK's store is on disk: payments stored before the kill are forwarded
  after the app starts again.

  Scenario: The app is killed with payments stored and forwards them after restart
    Given a rig with a BBPOS WisePad 3
    When the internet goes down
    And these customers pay:
      | name   | amount   |
      | donut  | 2.00 USD |
      | cruller| 2.20 USD |
    And the app on the POS is killed
    And the internet comes back
    And 1 minute passes
    Then "donut" is not forwarded yet
    When the app on the POS starts again
    Then "donut" is forwarded within 5 minutes
    And "cruller" is forwarded within 5 minutes
    And the backend holds 1 charge for "cruller"

  Scenario: The app is killed while it forwards
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 2.00 USD as "donut"
    And the internet comes back
    And the SDK is forwarding "donut"
    And the app on the POS is killed
    And 30 seconds pass
    And the app on the POS starts again
    Then "donut" is forwarded within 5 minutes
    And the backend holds 1 charge for "donut"

  Scenario: The app on a smart reader is killed with a payment stored
    Given a rig with a Stripe Reader S700
    When the internet goes down
    And the customer pays 2.00 USD as "donut"
    And the app on the reader is killed
    And the internet comes back
    And the app on the reader starts again
    Then "donut" is forwarded within 5 minutes
    And the backend holds 1 charge for "donut"
