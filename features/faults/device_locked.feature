@fault:device_locked
Feature: The POS is locked and its encryption keys are unavailable
  While the device is locked the SDK cannot encrypt a new record and refuses
  offline payments with OFFLINE_ENCRYPTION_KEYS_UNAVAILABLE; after unlock it
  stores them again (incident ios-355).

  Scenario: A locked POS refuses offline payments until it is unlocked
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the POS is locked
    And the customer pays 22.00 USD as "frame"
    Then "frame" fails with OFFLINE_ENCRYPTION_KEYS_UNAVAILABLE
    When the POS is unlocked
    And the customer pays 23.00 USD as "print"
    Then "print" is stored offline
    When the internet comes back
    Then "print" is forwarded within 5 minutes
    And the backend holds 0 charges for "frame"

  Scenario: A locked POS still takes payments online
    Given a rig with a BBPOS WisePad 3
    When the POS is locked
    And the customer pays 22.00 USD as "frame"
    Then "frame" succeeds online

  Scenario: Payments stored before the lock are forwarded after unlock
    Given a rig with a BBPOS Chipper 2X BT
    When the internet goes down
    And the customer pays 22.00 USD as "frame"
    And the POS is locked
    And the internet comes back
    And 2 minutes pass
    And the POS is unlocked
    Then "frame" is forwarded within 5 minutes
    And the backend holds 1 charge for "frame"
