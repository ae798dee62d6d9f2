@regression @fault:storage_full @fault:token_provider_failure @fault:response_lost
Feature: A write that fails for lack of space restarts the drain window
  Found by `readerlab explore --seed 1`: a one-shot full disk was armed
  long before the write it hit (the forwarded mark, two minutes later,
  after the token provider had failed and a token's answer was lost). The
  history recorded the fault only when it was armed, so the checker counted
  the retry after the failed mark as a queue that did not move for the
  whole drain window (I4). A one-shot write failure is now recorded when
  its write fails, as request faults are when their request comes.

  Scenario: The forwarded mark fails late and the queue still drains
    Given a rig with a BBPOS WisePOS E
    When the BBPOS WisePOS E's internet goes down
    Given the connection token provider fails 2 times
    When the customer starts paying 1.00 USD as "p1" at the BBPOS WisePOS E with the "visa" card
    And 6 seconds pass
    Given the next write to the storage of the BBPOS WisePOS E fails for lack of space
    And the next "connection token" request from the BBPOS WisePOS E loses its answer
    And the connection token provider fails 2 times
    When the BBPOS WisePOS E's internet comes back
    And the POS's internet goes down
    And the POS's internet comes back
    And 3 minutes pass
    Then "p1" is forwarded within 5 minutes
    And the history has 1 "fault.injected" event with fault "storage_full"
    And the backend holds 1 charge for "p1"
