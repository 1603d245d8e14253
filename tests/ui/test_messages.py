"""What the demo tells the user for each SDK error: Chinese, by type, never a value."""

from __future__ import annotations

import pytest

from sdk import errors as e


@pytest.fixture
def describe(monkeypatch):
    monkeypatch.setenv("KIVY_NO_ARGS", "1")
    from demo_app.screens.base import describe_error

    return describe_error


@pytest.mark.parametrize("error, expected", [
    (e.AccountExists("13800138000 exists"), "该账号已注册，请直接登录"),
    (e.AuthenticationFailed("x"), "账号或密码不正确"),
    (e.WeakPassword(["至少 10 个字符"]), "密码强度不足：至少 10 个字符"),
    (e.ServerUnavailable("GET https://host/v1/templates failed"), "暂时无法连接服务器，请检查网络后重试"),
    (e.LoginThrottled(900), "登录失败次数过多，请在 15 分钟后再试"),
])
def test_errors_become_chinese_sentences_without_their_details(describe, error, expected):
    assert describe(error) == expected


def test_an_unexpected_error_names_only_its_type(describe):
    assert describe(KeyError("13800138000")) == "出错了（KeyError），请重试"
