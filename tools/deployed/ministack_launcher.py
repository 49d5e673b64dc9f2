"""Start MiniStack with one correction to its IAM enforcement, so it authorizes as AWS documents.

Run by the emulator's own Python (``.venv-ministack/bin/python``); imports nothing of this project.

MiniStack 1.5.33 authorizes ``SendMessageBatch`` as the action ``sqs:SendMessageBatch``. AWS has no such
permission: "setting permissions for SendMessage, DeleteMessage, or ChangeMessageVisibility sets
permissions for the corresponding batch versions of the actions" (Amazon SQS Developer Guide, "Amazon SQS
batch actions"). Without this, a least-privilege role (``sqs:SendMessage``) is refused a call AWS allows.
"""

import ministack.core.iam_actions as iam_actions

AWS_AUTHORIZES_AS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
_extract_iam_action = iam_actions.extract_iam_action


def extract_iam_action(*args, **kwargs):
    action = _extract_iam_action(*args, **kwargs)
    return AWS_AUTHORIZES_AS.get(action, action)


# MiniStack imports the function where it authorizes each request, so the module attribute is the one used.
iam_actions.extract_iam_action = extract_iam_action

if __name__ == "__main__":
    from ministack.app import main

    main()
