"""Dashboard URLs of the partner app (mounted at / in the "dashboard" namespace) and the sign-in,
sign-out and password pages (mounted at /accounts/)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from partner import views

urlpatterns = [
    path("customers/", views.CustomerListView.as_view(), name="customers"),
    path("customers/new/", views.CustomerCreateView.as_view(), name="customer-add"),
    path("customers/<int:pk>/", views.CustomerDetailView.as_view(), name="customer"),
    path("customers/<int:pk>/edit/", views.CustomerEditView.as_view(), name="customer-edit"),
    path("customers/<int:pk>/delete/", views.CustomerDeleteView.as_view(), name="customer-delete"),
    path("customers/<int:pk>/subaccounts/new/", views.SubaccountCreateView.as_view(), name="subaccount-add"),
    path("subaccounts/<int:pk>/retry/", views.SubaccountRetryView.as_view(), name="subaccount-retry"),
    path(
        "subaccounts/<int:pk>/progress/", views.SubaccountProgressView.as_view(), name="subaccount-progress"
    ),
    path("team/", views.TeamView.as_view(), name="team"),
    path("team/invite/", views.InviteView.as_view(), name="member-invite"),
    path("team/<int:pk>/", views.MemberEditView.as_view(), name="member-edit"),
    path("team/<int:pk>/remove/", views.MemberRemoveView.as_view(), name="member-remove"),
    path("team/<int:pk>/resend/", views.MemberResendView.as_view(), name="member-resend"),
    path("account/tokens/", views.TokenListView.as_view(), name="tokens"),
    path("account/tokens/<int:pk>/revoke/", views.TokenRevokeView.as_view(), name="token-revoke"),
    path("organization/", views.OrganizationView.as_view(), name="organization"),
    path("organization/edit/", views.OrganizationEditView.as_view(), name="organization-edit"),
    path("organization/credentials/", views.CredentialsEditView.as_view(), name="credentials-edit"),
]

# Django's own auth views with the dashboard's templates; the names are Django's (unnamespaced).
account_urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path(
        "password/reset/",
        auth_views.PasswordResetView.as_view(
            email_template_name="emails/password_reset.txt",
            subject_template_name="emails/password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(post_reset_login=True),
        name="password_reset_confirm",
    ),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
