from django.urls import path

from . import views

urlpatterns = [
    path("", views.batches, name="census_batches"),
    path("upload/", views.upload, name="census_upload"),
    path("upload/confirm/", views.upload_confirm, name="census_upload_confirm"),
    path("batches/<int:batch_id>/", views.batch_detail, name="census_batch"),
    path("batches/<int:batch_id>/progress/", views.batch_progress, name="census_batch_progress"),
    path("batches/<int:batch_id>/rejected.xlsx", views.batch_rejected_xlsx, name="census_batch_rejected"),
    path("review/", views.review_queue, name="census_review"),
    path("review/<int:item_id>/decide/", views.review_decide, name="census_review_decide"),
    path("single-source/", views.single_source, name="census_single_source"),
]
