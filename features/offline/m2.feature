Feature: Offline collect then forward on a Stripe Reader M2

  Scenario: A payment taken offline is forwarded when the internet returns
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 12.50 USD as "coffee"
    Then "coffee" is stored offline
    When the internet comes back
    Then "coffee" is forwarded within 5 minutes
    And the backend holds 1 charge for "coffee"
    And the charge for "coffee" is marked as collected offline
