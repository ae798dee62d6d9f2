Feature: How a card may be presented offline
  Offline, chip and contactless are accepted; swipe is refused with
  CARD_SWIPE_NOT_AVAILABLE. In the EEA the card must be inserted with PIN: a
  tap is refused (docs/domain.md §2).

  Scenario: A swiped card is refused offline
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 25.00 USD as "shoes" by swiping
    Then "shoes" fails with CARD_SWIPE_NOT_AVAILABLE
    And the POS reports 0 stored payments

  Scenario: A swiped card is refused offline on a mobile reader with FORCE_OFFLINE while online
    Given a rig with a BBPOS Chipper 2X BT
    When the customer pays 25.00 USD as "shoes" by swiping with FORCE_OFFLINE
    Then "shoes" fails with CARD_SWIPE_NOT_AVAILABLE

  Scenario: A swiped card still works online
    Given a rig with a Stripe Reader M2
    When the customer pays 25.00 USD as "shoes" by swiping
    Then "shoes" succeeds online

  Scenario Outline: Offline, a card <entry> is stored
    Given a rig with a BBPOS WisePad 3
    When the internet goes down
    And the customer pays 25.00 USD as "shoes" by <entry>
    Then "shoes" is stored offline
    When the internet comes back
    Then "shoes" is forwarded within 5 minutes

    Examples:
      | entry     |
      | tapping   |
      | inserting |

  Scenario: In the EEA a tapped card is refused offline
    Given a rig with a BBPOS WisePad 3
    And the Location is in the EEA
    When the internet goes down
    And the customer pays 25.00 USD as "shoes" by tapping
    Then "shoes" fails with OFFLINE_TRANSACTION_DECLINED
    And the POS reports 0 stored payments

  Scenario: In the EEA a tapped card still works online
    Given a rig with a BBPOS WisePad 3
    And the Location is in the EEA
    When the customer pays 25.00 USD as "shoes" by tapping
    Then "shoes" succeeds online
