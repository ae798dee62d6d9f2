Feature: ios-355, a locked device cannot store offline payments

  In the field, on a Stripe Reader M2: "online payment, then network off, app
  in background ~10 min (device locked), card tapped offline". The error was
  opaque and every later create failed too. The SDK must name the cause
  (keys unavailable) and work again once the device is unlocked.

  @incident @source:ios-355
  Scenario: A tap while the device is locked fails clearly, and collection recovers after unlock
    Given a rig with a Stripe Reader M2
    When the customer pays 5.00 USD as "morning"
    Then "morning" succeeds online
    When the internet goes down
    And the POS is locked
    And 10 minutes pass
    And the customer pays 7.00 USD as "locked" by tapping
    Then "locked" fails with OFFLINE_ENCRYPTION_KEYS_UNAVAILABLE
    When the POS is unlocked
    And the customer pays 7.00 USD as "unlocked" by tapping
    Then "unlocked" is stored offline
    When the internet comes back
    Then "unlocked" is forwarded within 5 minutes
    And the backend holds 1 charge for "unlocked"
