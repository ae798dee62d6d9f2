@regression @fault:record_corrupted @fault:storage_full
Feature: A damaged record whose drop fails at start-up is still reported
  Found by `readerlab explore --seed 1`: the app restarts on a store with a
  damaged record, and the write that drops the record fails (the disk is
  full at that moment). The SDK used to keep quiet and try again only at the
  next start, so while the app kept running the payment was neither
  forwarded nor reported: lost to the app (I1). It now tries again while it
  runs and reports the record once its drop is durable.

  Scenario: The drop fails once, the record is reported on the next try
    Given a rig with a BBPOS Chipper 2X BT
    When the internet goes down
    And the customer pays 1.00 USD as "p1" with the "visa" card
    And a stored record on the POS is damaged
    And the POS loses power
    Given the next write to the storage of the POS fails for lack of space
    When 35 seconds pass
    Then the history has no "offline.payment.unreadable" event
    And "p1" is reported unreadable within 1 minute
    When the customer pays 2.00 USD as "p2" with the "visa" card
    And the internet comes back
    Then "p2" is forwarded within 5 minutes
