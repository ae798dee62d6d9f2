Feature: android-602, connecting to a smart reader while offline

  In the field, on a BBPOS WisePOS E: "connect to the smart reader while
  offline, offline mode enabled", and the connection failed. A reader that
  connected online at this Location within 30 days, on the same LAN, must
  connect offline and collect.

  @incident @source:android-602
  Scenario: The WisePOS E reconnects while the internet is down and stores a payment
    Given a rig with a BBPOS WisePOS E
    And offline mode is enabled in the Terminal configuration
    When 30 seconds pass
    Then the reader is connected
    When the internet goes down
    And the reader reboots
    Then the reader is connected within 3 minutes
    And the history has no "offline.connect.refused" event
    When the customer pays 42.00 USD as "dinner"
    Then "dinner" is stored offline
    And the reader reports 1 stored payment
    When the internet comes back
    Then "dinner" is forwarded within 10 minutes
    And the backend holds 1 charge for "dinner"
