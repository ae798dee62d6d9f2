Feature: Test amounts online and offline
  The last two digits of the amount (in minor units) choose the issuer's
  answer (docs/domain.md §6). Online the answer comes at once; offline the
  payment is stored and the answer comes when it is forwarded (decline on
  sync). The Stripe Reader M2 has no PIN pad, so an amount that asks for a PIN
  declines with the issuer's PIN request.

  Scenario: An amount ending in 00 is approved online
    Given a rig with a Stripe Reader M2
    When the customer pays 10.00 USD as "sale"
    Then "sale" succeeds online

  Scenario Outline: An amount ending in <ending> is declined online with <decline code>
    Given a rig with a Stripe Reader M2
    When the customer pays <amount> as "sale"
    Then "sale" is declined online with <decline code>
    And the backend holds 0 charges for "sale"

    Examples:
      | ending | amount    | decline code                    |
      | 01     | 10.01 USD | call_issuer                     |
      | 02     | 10.02 USD | offline_pin_required            |
      | 03     | 10.03 USD | online_or_offline_pin_required  |
      | 05     | 10.05 USD | generic_decline                 |
      | 55     | 10.55 USD | incorrect_pin                   |
      | 65     | 10.65 USD | withdrawal_count_limit_exceeded |
      | 75     | 10.75 USD | pin_try_exceeded                |

  Scenario Outline: An amount ending in <ending> taken offline is declined on sync with <decline code>
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays <amount> as "sale"
    Then "sale" is stored offline
    When the internet comes back
    Then "sale" is declined on sync with <decline code> within 5 minutes
    And the backend holds 0 charges for "sale"

    Examples:
      | ending | amount    | decline code                    |
      | 01     | 10.01 USD | call_issuer                     |
      | 05     | 10.05 USD | generic_decline                 |
      | 55     | 10.55 USD | incorrect_pin                   |
      | 65     | 10.65 USD | withdrawal_count_limit_exceeded |
      | 75     | 10.75 USD | pin_try_exceeded                |

  Scenario: Zero-decimal currencies use the two rightmost digits
    Given a rig with a Stripe Reader M2
    And the offline maximum per payment is 1000000 JPY
    When the customer pays 1005 JPY as "ramen"
    Then "ramen" is declined online with generic_decline
