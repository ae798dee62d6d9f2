Feature: Notifications from a mobile reader lost or late on the radio
  A mobile reader tells the POS what happened (a card read, a disconnect)
  in notifications over Bluetooth LE. One can be lost on the air, or all
  of them can arrive late. The reader did what it reports either way; the
  SDK must neither charge twice nor hang for good. On the served target with
  `--ble tcp|bluez` a lost notification is sent under its sequence number
  and never received, so the POS sees the gap.

  @fault:notification_dropped
  Scenario: The notification that the card was read is lost: nothing is charged and the next customer pays
    Given a rig with a Stripe Reader M2
    Then the reader is connected within 1 minute
    When the next "reader.payment.collected" notification of the reader to the POS is lost
    And the customer pays 7.50 USD as "socks"
    Then the history has a "reader.payment.collected" event with payment "socks" within 1 minute
    When 6 minutes pass
    Then the backend holds 0 charges for "socks"
    And "socks" fails with CANCELED
    When the customer pays 8.00 USD as "shirt"
    Then "shirt" succeeds online
    And the backend holds 1 charge for "shirt"

  @fault:notification_delayed
  Scenario: Notifications 30 seconds late slow a payment down, and it is charged once
    Given a rig with a BBPOS WisePad 3
    Then the reader is connected within 1 minute
    When the notifications of the reader reach the POS 30 seconds late
    And the customer pays 7.50 USD as "socks"
    Then "socks" succeeds online
    And the backend holds 1 charge for "socks"
    When the notifications of the reader reach the POS on time again
    And the customer pays 8.00 USD as "shirt"
    Then "shirt" succeeds online
    And the backend holds 1 charge for "shirt"

  @fault:notification_dropped
  Scenario: A payment stored offline is forwarded even though the reader's notice of it was lost
    Given a rig with a BBPOS WisePad 3
    Then the reader is connected within 1 minute
    When the internet goes down
    And the customer pays 12.50 USD as "coffee"
    Then "coffee" is stored offline
    When the next "reader.payment.collected" notification of the reader to the POS is lost
    And the customer pays 9.00 USD as "tea"
    And 6 minutes pass
    And the internet comes back
    Then "coffee" is forwarded within 5 minutes
    And the backend holds 1 charge for "coffee"
    And the backend holds 0 charges for "tea"

  @fault:mtu_reduced @fault:slow_connection_interval
  Scenario: A smaller MTU and a slow connection interval make every message take many connection events, and payments still complete once
    Given a rig with a Stripe Reader M2
    Then the reader is connected within 1 minute
    When the Bluetooth MTU of the reader is renegotiated down to 23
    And the Bluetooth connection interval of the reader slows to 400 ms
    And the internet goes down
    And the customer pays 12.50 USD as "coffee"
    Then "coffee" is stored offline
    When the internet comes back
    And the customer pays 7.50 USD as "socks"
    Then "socks" succeeds online
    And "coffee" is forwarded within 5 minutes
    When the Bluetooth connection interval of the reader is normal again
    And the Bluetooth MTU of the reader is renegotiated back up
    And the customer pays 8.00 USD as "shirt"
    Then "shirt" succeeds online
    And the backend holds 1 charge for "coffee"
    And the backend holds 1 charge for "socks"
    And the backend holds 1 charge for "shirt"
