Feature: Offline collect then forward on a BBPOS WisePad 3
  The BBPOS WisePad 3 is a mobile reader: the SDK on the POS stores offline payments and
  forwards them when the internet returns.

  Scenario: A payment taken offline is forwarded when the internet returns
    Given a rig with a BBPOS WisePad 3
    When the internet goes down
    And the customer pays 12.50 USD as "coffee"
    Then "coffee" is stored offline
    When the internet comes back
    Then "coffee" is forwarded within 5 minutes
    And the backend holds 1 charge for "coffee"
    And the charge for "coffee" is marked as collected offline

  Scenario: FORCE_OFFLINE stores the payment even while online, then forwards it
    Given a rig with a BBPOS WisePad 3
    When the customer pays 8.00 USD as "tea" with FORCE_OFFLINE
    Then "tea" is stored offline
    And "tea" is forwarded within 5 minutes
    And the backend holds 1 charge for "tea"
    And the charge for "tea" is marked as collected offline

  Scenario: Several payments taken offline drain once the internet returns
    Given a rig with a BBPOS WisePad 3
    When the internet goes down
    And these customers pay:
      | name   | amount    |
      | bagel  | 3.20 USD  |
      | muffin | 4.10 USD  |
      | juice  | 5.80 USD  |
    Then the POS reports 3 stored payments
    And "bagel" is not forwarded yet
    When the internet comes back
    Then "bagel" is forwarded within 5 minutes
    And "muffin" is forwarded within 5 minutes
    And "juice" is forwarded within 5 minutes
    And the backend holds 1 charge for "muffin"
    And the POS reports 0 stored payments
